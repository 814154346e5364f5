//! Identity's HTTP routes. Thin: parse, call the service, shape the answer.

use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use nexus_runtime::http::ClientAddr;
use nexus_runtime::{ApiError, ApiJson, ApiQuery};
use nexus_wire::{ChangePasswordRequest, LoginRequest, OrgView, SessionResponse, UserView, codes};

use crate::model::{Organization, Role, Session, User};
use crate::service::{IdentityService, user_actor};

pub const COOKIE: &str = "nexus_session";

#[derive(Debug, Clone)]
pub struct RouteState {
    pub service: IdentityService,
    /// Add `Secure` to the cookie (when the public URL is https).
    pub secure_cookie: bool,
}

pub fn router(state: RouteState) -> Router {
    Router::new()
        .route("/api/session", get(current).post(login).delete(logout))
        .route("/api/session/password", post(change_password))
        .route("/api/session/logout-everywhere", post(logout_everywhere))
        .route("/api/admin/audit", get(audit_log))
        .with_state(state)
}

/// The logged-in user, from the session cookie. Refuses an account that still has to
/// replace its one-time password: such a session may only do what [`Pending`] allows.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub session: Session,
    pub user: User,
    pub org: Organization,
}

impl FromRequestParts<RouteState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &RouteState) -> Result<Self, ApiError> {
        let Pending(auth) = Pending::from_request_parts(parts, state).await?;
        if auth.user.must_change_password {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                codes::AUTH_PASSWORD_CHANGE_REQUIRED,
                "choose a new password first (POST /api/session/password)",
            ));
        }
        Ok(auth)
    }
}

/// Any logged-in user, including one who must still change their one-time password: for
/// reading the session, changing the password and logging out.
#[derive(Debug, Clone)]
pub struct Pending(pub Authenticated);

impl FromRequestParts<RouteState> for Pending {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &RouteState) -> Result<Self, ApiError> {
        let token = session_cookie(&parts.headers).ok_or_else(ApiError::unauthorized)?;
        match state.service.authenticate(&token).await? {
            Some((session, user, org)) => Ok(Self(Authenticated { session, user, org })),
            None => Err(ApiError::unauthorized()),
        }
    }
}

/// An owner or administrator of their organization.
#[derive(Debug, Clone)]
pub struct Admin(pub Authenticated);

impl FromRequestParts<RouteState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &RouteState) -> Result<Self, ApiError> {
        let auth = Authenticated::from_request_parts(parts, state).await?;
        if !matches!(auth.user.role, Role::Owner | Role::Admin) {
            return Err(ApiError::forbidden(
                "only owners and administrators of the organization can do this",
            ));
        }
        Ok(Self(auth))
    }
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
}

fn view(user: &User, org: &Organization) -> SessionResponse {
    SessionResponse {
        user: UserView {
            id: user.id.to_string(),
            email: user.email.clone(),
            display_name: user.display_name.clone(),
            role: user.role.as_str().to_owned(),
            org: OrgView {
                id: org.id.to_string(),
                slug: org.slug.clone(),
                name: org.name.clone(),
            },
        },
        must_change_password: user.must_change_password,
    }
}

async fn current(Pending(auth): Pending) -> ApiJson<SessionResponse> {
    ApiJson(view(&auth.user, &auth.org))
}

async fn login(
    State(state): State<RouteState>,
    ClientAddr(client): ClientAddr,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let login = state
        .service
        .login(&req.email, &req.password, &client)
        .await?;
    let max_age = state.service.session_lifetime().as_secs();
    let cookie = format!(
        "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        login.token,
        if state.secure_cookie { "; Secure" } else { "" }
    );
    let mut resp = ApiJson(view(&login.user, &login.org)).into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(ApiError::internal)?,
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

async fn logout(
    State(state): State<RouteState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(token) = session_cookie(&headers)
        && let Some((session, user, _)) = state.service.authenticate(&token).await?
    {
        state
            .service
            .logout(&session, &user_actor(&user, &client))
            .await?;
    }
    cleared(&state)
}

/// 204 with the session cookie removed.
fn cleared(state: &RouteState) -> Result<Response, ApiError> {
    let clear = format!(
        "{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        if state.secure_cookie { "; Secure" } else { "" }
    );
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&clear).map_err(ApiError::internal)?,
    );
    Ok(resp)
}

/// Ends every session of the user, this one included.
async fn logout_everywhere(
    State(state): State<RouteState>,
    ClientAddr(client): ClientAddr,
    Pending(auth): Pending,
) -> Result<Response, ApiError> {
    state
        .service
        .end_sessions(&auth.user, None, &user_actor(&auth.user, &client))
        .await?;
    cleared(&state)
}

#[derive(Debug, serde::Deserialize)]
struct AuditQuery {
    #[serde(default)]
    after: i64,
    #[serde(default = "default_audit_limit")]
    limit: i64,
}

fn default_audit_limit() -> i64 {
    100
}

/// The organization's audit records, oldest first, a page at a time: pass the last `seq`
/// seen as `after`.
async fn audit_log(
    State(state): State<RouteState>,
    Admin(auth): Admin,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Response, ApiError> {
    let records = state
        .service
        .audit_log(auth.org.id, q.after, q.limit)
        .await?;
    let next_after = records.last().map_or(q.after.max(0), |r| r.seq);
    let mut resp = ApiJson(serde_json::json!({ "records": records, "next_after": next_after }))
        .into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

async fn change_password(
    State(state): State<RouteState>,
    ClientAddr(client): ClientAddr,
    Pending(auth): Pending,
    ApiJson(req): ApiJson<ChangePasswordRequest>,
) -> Result<StatusCode, ApiError> {
    state
        .service
        .change_password(
            &auth.session,
            &auth.user,
            &req.current_password,
            &req.new_password,
            &user_actor(&auth.user, &client),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_session_cookie_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; nexus_session=abc; x=y"),
        );
        assert_eq!(session_cookie(&h).as_deref(), Some("abc"));
        h.insert(header::COOKIE, HeaderValue::from_static("nexus_sessionx=1"));
        assert_eq!(session_cookie(&h), None);
    }
}
