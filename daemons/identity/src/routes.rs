//! Identity's HTTP routes. Thin: parse, call the service, shape the answer.

use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use nexus_runtime::http::ClientAddr;
use nexus_runtime::{ApiError, ApiJson, ApiPath, ApiQuery};
use nexus_wire::{
    ChangePasswordRequest, LoginRequest, MfaChallengeResponse, MfaChallengeView, MfaLoginRequest,
    OrgView, PasswordResetComplete, PasswordResetRequest, SessionResponse, UserView, codes,
};

use crate::authz::{Permission, Permissions};
use crate::model::{ApiToken, OAuthClient, Organization, User};
use crate::service::directory::Access;
use crate::service::{IdentityService, LoginOutcome, NewLogin, user_actor};
use crate::tokens::{BASE_SCOPES, Subject, TokenError};
use nexus_store::OrgId;

pub const COOKIE: &str = "nexus_session";

#[derive(Debug, Clone)]
pub struct RouteState {
    pub service: IdentityService,
    /// Add `Secure` to the cookie (when the public URL is https).
    pub secure_cookie: bool,
    /// The instance's state directory, where `nexusctl` keeps the alerts.
    pub state_dir: std::path::PathBuf,
}

pub fn router(state: RouteState) -> Router {
    Router::new()
        .route("/api/session", get(current).post(login).delete(logout))
        .route("/api/session/mfa", post(login_second_factor))
        .route("/api/session/password", post(change_password))
        .route("/api/password-reset", post(request_password_reset))
        .route(
            "/api/password-reset/complete",
            post(complete_password_reset),
        )
        .route("/api/session/logout-everywhere", post(logout_everywhere))
        .route("/api/setup", post(complete_setup))
        .route("/api/account/sessions", get(list_sessions))
        .route("/api/account/sessions/{id}", delete(end_session))
        .route("/api/admin/audit", get(audit_log))
        .route("/api/admin/instance/alerts", get(instance_alerts))
        .route("/api/whoami", get(whoami))
        .route("/api/tokens", get(list_tokens).post(create_token))
        .route("/api/tokens/{id}", delete(revoke_token))
        .route("/api/admin/clients", get(list_clients).post(create_client))
        .route("/api/admin/clients/{id}", delete(disable_client))
        .merge(admin::routes())
        .merge(directories::routes())
        .merge(mfa::routes())
        .merge(passkeys::routes())
        .merge(sso::routes())
        .merge(oauth::routes())
        .with_state(state)
}

mod admin;
mod directories;
mod mfa;
mod oauth;
mod passkeys;
mod sso;

pub use crate::authz::{Authenticated, Caller};

/// The logged-in user, from the session cookie. Refuses an account that still has to
/// replace its one-time password: such a session may only do what [`Pending`] allows.
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

/// A caller holding the permission `P` names (a marker from [`need`]), checked by the one
/// permission check, [`IdentityService::authorize`]. Routes that need more than a login
/// take this and use `access` for the finer rules and the audit actor.
pub struct Authorized<P> {
    pub access: Access,
    _needs: std::marker::PhantomData<P>,
}

/// A permission as a type, for [`Authorized`].
pub trait Needs {
    const PERMISSION: Permission;
}

/// One marker per permission.
pub mod need {
    macro_rules! markers {
        ($($name:ident),*) => {$(
            pub struct $name;
            impl super::Needs for $name {
                const PERMISSION: crate::authz::Permission = crate::authz::Permission::$name;
            }
        )*};
    }
    markers!(
        UsersRead,
        UsersManage,
        RolesManage,
        OrgManage,
        AuditRead,
        ClientsManage,
        SystemRead
    );
}

impl<P: Needs + Send + Sync> FromRequestParts<RouteState> for Authorized<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &RouteState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let Ok(ClientAddr(from)) = ClientAddr::from_request_parts(parts, state).await;
        let access = state
            .service
            .authorize(&caller, P::PERMISSION, &from)
            .await?;
        Ok(Self {
            access,
            _needs: std::marker::PhantomData,
        })
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

impl Caller {
    /// Sessions act with their user's role; tokens need `scope` as well.
    pub fn require_scope(&self, scope: &str) -> Result<(), ApiError> {
        match self {
            Self::Token(t) if !t.scopes.contains(scope) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                codes::AUTH_INSUFFICIENT_SCOPE,
                format!("this token lacks the scope `{scope}`"),
            )),
            _ => Ok(()),
        }
    }
}

impl FromRequestParts<RouteState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &RouteState) -> Result<Self, ApiError> {
        let Some(auth) = parts.headers.get(header::AUTHORIZATION) else {
            return Ok(Self::Session(Box::new(
                Authenticated::from_request_parts(parts, state).await?,
            )));
        };
        let token = auth
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    codes::AUTH_INVALID_TOKEN,
                    "send the token as `Authorization: Bearer TOKEN`",
                )
            })?;
        if !state.service.tokens().revocations_loaded() {
            state.service.refresh_revocations().await?;
        }
        state
            .service
            .verify_bearer(token)
            .map(Self::Token)
            .map_err(|e| {
                let code = match e {
                    TokenError::Expired => codes::AUTH_TOKEN_EXPIRED,
                    TokenError::Invalid | TokenError::Revoked => codes::AUTH_INVALID_TOKEN,
                };
                ApiError::new(StatusCode::UNAUTHORIZED, code, e.to_string())
            })
    }
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    cookie_value(headers, COOKIE).map(str::to_owned)
}

/// The value of cookie `name` in a request.
pub(super) fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value)
}

async fn view(
    state: &RouteState,
    user: &User,
    org: &Organization,
) -> Result<SessionResponse, ApiError> {
    let held = state.service.permissions(user).await?;
    let has_logo = state.service.store().has_logo(org.id).await?;
    Ok(SessionResponse {
        user: UserView {
            id: user.id.to_string(),
            email: user.email.clone(),
            display_name: user.display_name.clone(),
            role: user.role.as_str().to_owned(),
            org: OrgView {
                id: org.id.to_string(),
                slug: org.slug.clone(),
                name: org.name.clone(),
                brand_color: org.brand_color.clone(),
                has_logo,
            },
            permissions: held.iter().map(|p| p.as_str().to_owned()).collect(),
        },
        must_change_password: user.must_change_password,
    })
}

async fn current(
    State(state): State<RouteState>,
    Pending(auth): Pending,
) -> Result<ApiJson<SessionResponse>, ApiError> {
    Ok(ApiJson(view(&state, &auth.user, &auth.org).await?))
}

async fn login(
    State(state): State<RouteState>,
    ClientAddr(client): ClientAddr,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let outcome = state
        .service
        .login(&req.email, &req.password, &client)
        .await?;
    login_answer(&state, outcome).await
}

/// A session with its cookie, or the challenge for the second step.
async fn login_answer(state: &RouteState, outcome: LoginOutcome) -> Result<Response, ApiError> {
    match outcome {
        LoginOutcome::Session(login) => logged_in(state, &login).await,
        LoginOutcome::SecondFactor(challenge) => Ok(no_store(ApiJson(MfaChallengeResponse {
            mfa: MfaChallengeView {
                challenge: challenge.token,
                methods: challenge.methods.iter().map(|m| (*m).to_owned()).collect(),
                expires_in: challenge.expires_in,
            },
        }))),
    }
}

/// The second login step: challenge and code in, session cookie out.
async fn login_second_factor(
    State(state): State<RouteState>,
    ClientAddr(client): ClientAddr,
    ApiJson(req): ApiJson<MfaLoginRequest>,
) -> Result<Response, ApiError> {
    let login = state
        .service
        .complete_login(&req.challenge, &req.code, &client)
        .await?;
    logged_in(&state, &login).await
}

/// Sends a reset link if the address has an account; the answer is the same either way.
async fn request_password_reset(
    State(state): State<RouteState>,
    ClientAddr(client): ClientAddr,
    ApiJson(req): ApiJson<PasswordResetRequest>,
) -> Result<StatusCode, ApiError> {
    state
        .service
        .request_password_reset(&req.email, &client)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// A new password through the link's token; every session of the account ends.
async fn complete_password_reset(
    State(state): State<RouteState>,
    ClientAddr(client): ClientAddr,
    ApiJson(req): ApiJson<PasswordResetComplete>,
) -> Result<StatusCode, ApiError> {
    state
        .service
        .complete_password_reset(&req.token, &req.new_password, &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// First-login setup: the link printed by `nexusctl init` sets the owner's password and
/// signs them in, like a login (a second factor, if one exists by then, is still asked).
async fn complete_setup(
    State(state): State<RouteState>,
    ClientAddr(client): ClientAddr,
    ApiJson(req): ApiJson<PasswordResetComplete>,
) -> Result<Response, ApiError> {
    let outcome = state
        .service
        .complete_setup(&req.token, &req.new_password, &client)
        .await?;
    login_answer(&state, outcome).await
}

/// An answer that carries a session, a secret or personal data: never cached.
pub(super) fn no_store(body: impl IntoResponse) -> Response {
    let mut resp = body.into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The session answer with its cookie.
async fn logged_in(state: &RouteState, login: &NewLogin) -> Result<Response, ApiError> {
    let mut resp = no_store(ApiJson(view(state, &login.user, &login.org).await?));
    resp.headers_mut()
        .insert(header::SET_COOKIE, session_set_cookie(state, login)?);
    Ok(resp)
}

/// The `Set-Cookie` value that carries a new session.
pub(super) fn session_set_cookie(
    state: &RouteState,
    login: &NewLogin,
) -> Result<HeaderValue, ApiError> {
    let max_age = state.service.session_lifetime().as_secs();
    HeaderValue::from_str(&format!(
        "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        login.token,
        if state.secure_cookie { "; Secure" } else { "" }
    ))
    .map_err(ApiError::internal)
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

/// The caller's sessions, so they can spot one they do not recognise.
async fn list_sessions(
    State(state): State<RouteState>,
    auth: Authenticated,
) -> Result<Response, ApiError> {
    let sessions = state.service.sessions(&auth).await?;
    Ok(no_store(ApiJson(
        serde_json::json!({ "sessions": sessions }),
    )))
}

/// Ends one of the caller's sessions (another device); its cookie stops working at once.
async fn end_session(
    State(state): State<RouteState>,
    ClientAddr(client): ClientAddr,
    auth: Authenticated,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    state
        .service
        .end_session(&auth, &id, &user_actor(&auth.user, &client))
        .await?;
    Ok(StatusCode::NO_CONTENT)
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
    Authorized { access, .. }: Authorized<need::AuditRead>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Response, ApiError> {
    let records = state
        .service
        .audit_log(access.org, q.after, q.limit)
        .await?;
    let next_after = records.last().map_or(q.after.max(0), |r| r.seq);
    Ok(no_store(ApiJson(
        serde_json::json!({ "records": records, "next_after": next_after }),
    )))
}

/// The instance's health alerts, as `nexusctl` last evaluated them; for the operators (the
/// owners and administrators of the instance's first organization).
async fn instance_alerts(
    State(state): State<RouteState>,
    _: Authorized<need::SystemRead>,
) -> Result<Response, ApiError> {
    let now = chrono::Utc::now().timestamp();
    let alerts = nexus_runtime::alerts::read(&state.state_dir, now).map_err(ApiError::internal)?;
    Ok(no_store(ApiJson(alerts)))
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

/// Who the caller is, from the token alone (no database read for tokens).
async fn whoami(State(state): State<RouteState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require_scope("profile")?;
    // A typed answer: this is the hot path of token-authenticated reads.
    #[derive(serde::Serialize)]
    struct WhoAmI<'a> {
        org: OrgId,
        subject: String,
        via: &'static str,
        scopes: Vec<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        expires_at: Option<i64>,
    }
    let body = match &caller {
        Caller::Session(a) => WhoAmI {
            org: a.org.id,
            subject: format!("user:{}", a.user.id),
            via: "session",
            scopes: session_scopes(state.service.permissions(&a.user).await?),
            expires_at: None,
        },
        Caller::Token(t) => WhoAmI {
            org: t.org,
            subject: match &t.subject {
                Subject::User(u) => format!("user:{u}"),
                Subject::Client(c) => format!("client:{c}"),
            },
            via: "token",
            scopes: t.scopes.iter().collect(),
            expires_at: Some(t.expires_at),
        },
    };
    Ok(no_store(ApiJson(body)))
}

/// What a session may do, in scope terms: the base scopes and the user's permissions.
fn session_scopes(held: Permissions) -> Vec<&'static str> {
    BASE_SCOPES
        .iter()
        .map(|(s, _)| *s)
        .chain(held.iter().map(Permission::as_str))
        .collect()
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTokenRequest {
    name: String,
    scopes: Vec<String>,
    expires_in_days: Option<u32>,
}

fn token_json(t: &ApiToken) -> serde_json::Value {
    serde_json::json!({
        "id": t.id,
        "name": t.name,
        "scopes": t.scopes.split(' ').collect::<Vec<_>>(),
        "created_at": t.created_at,
        "expires_at": t.expires_at,
        "revoked_at": t.revoked_at,
    })
}

/// Creates a personal access token; the token is in this answer only.
async fn create_token(
    State(state): State<RouteState>,
    ClientAddr(client): ClientAddr,
    auth: Authenticated,
    ApiJson(req): ApiJson<NewTokenRequest>,
) -> Result<Response, ApiError> {
    let (record, token) = state
        .service
        .create_api_token(
            &auth.user,
            &req.name,
            &req.scopes,
            req.expires_in_days,
            &user_actor(&auth.user, &client),
        )
        .await?;
    let mut body = token_json(&record);
    body["token"] = serde_json::Value::String(token);
    Ok(no_store((StatusCode::CREATED, ApiJson(body))))
}

async fn list_tokens(
    State(state): State<RouteState>,
    auth: Authenticated,
) -> Result<ApiJson<serde_json::Value>, ApiError> {
    let tokens = state.service.list_api_tokens(&auth.user).await?;
    Ok(ApiJson(serde_json::json!({
        "tokens": tokens.iter().map(token_json).collect::<Vec<_>>()
    })))
}

fn parse_id(id: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(id).map_err(|_| {
        ApiError::bad_request(codes::VALIDATION_FAILED, format!("`{id}` is not an id"))
    })
}

async fn revoke_token(
    State(state): State<RouteState>,
    ClientAddr(client): ClientAddr,
    auth: Authenticated,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id)?;
    state
        .service
        .revoke_api_token(&auth.user, id, &user_actor(&auth.user, &client))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewClientRequest {
    name: String,
    scopes: Vec<String>,
    /// For OpenID Connect sign-in: where users may be sent back to.
    #[serde(default)]
    redirect_uris: Vec<String>,
}

fn client_json(c: &OAuthClient) -> serde_json::Value {
    serde_json::json!({
        "client_id": c.id,
        "name": c.name,
        "scopes": c.scopes.split(' ').collect::<Vec<_>>(),
        "redirect_uris": c.redirect_uris().collect::<Vec<_>>(),
        "created_at": c.created_at,
        "disabled": c.disabled,
    })
}

/// Registers an OAuth client; the secret is in this answer only.
async fn create_client(
    State(state): State<RouteState>,
    Authorized { access, .. }: Authorized<need::ClientsManage>,
    ApiJson(req): ApiJson<NewClientRequest>,
) -> Result<Response, ApiError> {
    let (c, secret) = state
        .service
        .create_client(
            access.org,
            access.held,
            &req.name,
            &req.scopes,
            &req.redirect_uris,
            &access.actor,
        )
        .await?;
    let mut body = client_json(&c);
    body["client_secret"] = serde_json::Value::String(secret);
    Ok(no_store((StatusCode::CREATED, ApiJson(body))))
}

async fn list_clients(
    State(state): State<RouteState>,
    Authorized { access, .. }: Authorized<need::ClientsManage>,
) -> Result<ApiJson<serde_json::Value>, ApiError> {
    let clients = state.service.store().list_clients(access.org).await?;
    Ok(ApiJson(serde_json::json!({
        "clients": clients.iter().map(client_json).collect::<Vec<_>>()
    })))
}

async fn disable_client(
    State(state): State<RouteState>,
    Authorized { access, .. }: Authorized<need::ClientsManage>,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    state
        .service
        .disable_client(access.org, &id, &access.actor)
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
