//! Identity's HTTP routes. Thin: parse, call the service, shape the answer.

use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use nexus_runtime::http::ClientAddr;
use nexus_runtime::{ApiError, ApiJson};
use nexus_wire::{ChangePasswordRequest, LoginRequest, OrgView, SessionResponse, UserView};

use crate::model::{Organization, Session, User};
use crate::service::IdentityService;

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
        .with_state(state)
}

/// The logged-in user, from the session cookie.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub session: Session,
    pub user: User,
    pub org: Organization,
}

impl FromRequestParts<RouteState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &RouteState) -> Result<Self, ApiError> {
        let token = session_cookie(&parts.headers).ok_or_else(ApiError::unauthorized)?;
        match state.service.authenticate(&token).await? {
            Some((session, user, org)) => Ok(Self { session, user, org }),
            None => Err(ApiError::unauthorized()),
        }
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

async fn current(auth: Authenticated) -> ApiJson<SessionResponse> {
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

async fn logout(State(state): State<RouteState>, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(token) = session_cookie(&headers)
        && let Some((session, _, _)) = state.service.authenticate(&token).await?
    {
        state.service.logout(&session).await?;
    }
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

async fn change_password(
    State(state): State<RouteState>,
    auth: Authenticated,
    ApiJson(req): ApiJson<ChangePasswordRequest>,
) -> Result<StatusCode, ApiError> {
    state
        .service
        .change_password(
            &auth.session,
            &auth.user,
            &req.current_password,
            &req.new_password,
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
