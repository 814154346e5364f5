//! Signing in through outside OpenID providers: the login page's buttons
//! (`/api/sso/providers`), the way there and back (`/api/sso/{id}/start`,
//! `/api/sso/{id}/callback`: browser navigations, so they answer with redirects, errors
//! included), linking one's own account (`/api/account/sso-links`), and the owners'
//! configuration (`/api/admin/sso-providers`). The client secret goes in, never out.

use std::collections::HashMap;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use nexus_runtime::http::ClientAddr;
use nexus_runtime::{ApiError, ApiJson, ApiPath, ApiQuery};
use serde_json::{Value, json};

use super::{
    Authenticated, Authorized, RouteState, cookie_value, need, no_store, session_set_cookie,
};
use crate::model::IdentityProvider;
use crate::service::sso::{
    BINDING_COOKIE, LINK_FRESH_SECS, ProviderInput, REQUEST_SECS, SsoFailure, SsoMode, SsoOutcome,
    SsoStart, callback_path,
};
use crate::service::user_actor;

pub(super) fn routes() -> Router<RouteState> {
    Router::new()
        .route("/api/sso/providers", get(login_providers))
        .route("/api/sso/{id}/start", get(start))
        // `callback_path`, spelled out so the tenancy walk's route scan reads it.
        .route("/api/sso/{id}/callback", get(callback))
        .route("/api/account/sso-links", get(account_links))
        .route(
            "/api/account/sso-links/{id}",
            post(start_link).delete(unlink),
        )
        .route(
            "/api/admin/sso-providers",
            get(list_providers).post(create_provider),
        )
        .route(
            "/api/admin/sso-providers/{id}",
            get(provider).patch(update_provider).delete(delete_provider),
        )
}

fn provider_json(state: &RouteState, p: &IdentityProvider) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "issuer": p.issuer,
        "client_id": p.client_id,
        "create_users": p.create_users,
        "trust_email": p.trust_email,
        "created_at": p.created_at,
        "redirect_uri": state.service.sso_redirect_uri(p.id),
    })
}

/// The buttons of the login page (`?org=SLUG` on an instance of several organizations).
async fn login_providers(
    State(state): State<RouteState>,
    ApiQuery(params): ApiQuery<HashMap<String, String>>,
) -> Result<ApiJson<Value>, ApiError> {
    let org = params.get("org").map(String::as_str);
    let providers = state.service.login_providers(org).await?;
    Ok(ApiJson(json!({ "providers": providers })))
}

fn redirect(location: &str) -> Result<Response, ApiError> {
    let mut resp = no_store(StatusCode::SEE_OTHER);
    resp.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_str(location).map_err(ApiError::internal)?,
    );
    Ok(resp)
}

fn query(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// Back to the login page, saying why (a fixed code the page words; no free text in the
/// address bar).
fn failed(failure: SsoFailure, next: &str) -> Result<Response, ApiError> {
    let mut pairs = vec![("sso_error", failure.code())];
    if next != "/" {
        pairs.push(("next", next));
    }
    redirect(&format!("/login?{}", query(&pairs)))
}

fn binding_cookie(
    state: &RouteState,
    provider: uuid::Uuid,
    value: &str,
    max_age: i64,
) -> Result<HeaderValue, ApiError> {
    // Lax, not Strict: the way back is a cross-site navigation from the provider.
    HeaderValue::from_str(&format!(
        "{BINDING_COOKIE}={value}; Path={}; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        callback_path(provider),
        if state.secure_cookie { "; Secure" } else { "" }
    ))
    .map_err(ApiError::internal)
}

/// To the provider, with a cookie that binds the request to this browser.
async fn start(
    State(state): State<RouteState>,
    ApiPath(id): ApiPath<uuid::Uuid>,
    ApiQuery(params): ApiQuery<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let next = params.get("next").map(String::as_str);
    match state.service.start_sso(id, next, SsoMode::SignIn).await {
        Ok(start) => {
            let mut resp = redirect(&start.redirect)?;
            resp.headers_mut().append(
                header::SET_COOKIE,
                binding_cookie(&state, id, &start.binding, REQUEST_SECS)?,
            );
            Ok(resp)
        }
        Err(failure) => failed(failure, next.unwrap_or("/")),
    }
}

/// Back from the provider: a session (or the second step), or the login page with why; for
/// a linking, the account page.
async fn callback(
    State(state): State<RouteState>,
    ClientAddr(client): ClientAddr,
    ApiPath(id): ApiPath<uuid::Uuid>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let binding = cookie_value(&headers, BINDING_COOKIE);
    let (result, next, linking) = state
        .service
        .finish_sso(id, &params, binding, &client)
        .await;
    let mut resp = match result {
        Ok(SsoOutcome::Session(login, next)) => {
            let mut resp = redirect(&next)?;
            resp.headers_mut()
                .append(header::SET_COOKIE, session_set_cookie(&state, &login)?);
            resp
        }
        Ok(SsoOutcome::SecondFactor(challenge, next)) => {
            // In the fragment: it never reaches a server log or a Referer.
            let q = if next == "/" {
                String::new()
            } else {
                format!("?{}", query(&[("next", &next)]))
            };
            redirect(&format!("/login{q}#mfa={}", challenge.token))?
        }
        Ok(SsoOutcome::Linked) => redirect("/account?sso=linked")?,
        Err(failure) if linking => redirect(&format!(
            "/account?{}",
            query(&[("sso_error", failure.code())])
        ))?,
        Err(failure) => failed(failure, &next)?,
    };
    resp.headers_mut()
        .append(header::SET_COOKIE, binding_cookie(&state, id, "", 0)?);
    Ok(resp)
}

/// The organization's providers, and which the caller's account is linked to.
async fn account_links(
    State(state): State<RouteState>,
    auth: Authenticated,
) -> Result<Response, ApiError> {
    let links = state.service.account_links(&auth.user).await?;
    Ok(no_store(ApiJson(json!({ "links": links }))))
}

/// Starts linking the caller's account to provider `id`: a POST (so the CSRF check
/// applies: nobody else's page can start it), answered with where to send the browser.
async fn start_link(
    State(state): State<RouteState>,
    auth: Authenticated,
    ApiPath(id): ApiPath<uuid::Uuid>,
) -> Result<Response, ApiError> {
    // Only the caller's own organization's providers.
    if state
        .service
        .store()
        .provider(auth.user.org, id)
        .await?
        .is_none()
    {
        return Err(ApiError::not_found(format!(
            "sign-in provider {id} not found"
        )));
    }
    // A link is a lasting way into the account: only from a recent login, not from any
    // session cookie that may have been lying around.
    let age = chrono::Utc::now() - auth.session.created_at;
    if age > chrono::TimeDelta::seconds(LINK_FRESH_SECS) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            nexus_wire::codes::AUTH_RECENT_LOGIN_REQUIRED,
            "log out and in again to link a provider: linking needs a login from the last 10 minutes",
        ));
    }
    let SsoStart { redirect, binding } = state
        .service
        .start_sso(
            id,
            Some("/account"),
            SsoMode::Link(auth.user.id, auth.session.token_hash.clone()),
        )
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                nexus_wire::codes::SSO_PROVIDER_UNREACHABLE,
                "the provider cannot be reached now; try again later",
            )
        })?;
    let mut resp = no_store(ApiJson(json!({ "redirect": redirect })));
    resp.headers_mut().append(
        header::SET_COOKIE,
        binding_cookie(&state, id, &binding, REQUEST_SECS)?,
    );
    Ok(resp)
}

/// Unlinks the caller's account from provider `id`.
async fn unlink(
    State(state): State<RouteState>,
    ClientAddr(client): ClientAddr,
    auth: Authenticated,
    ApiPath(id): ApiPath<uuid::Uuid>,
) -> Result<StatusCode, ApiError> {
    state
        .service
        .unlink_account(&auth.user, id, &user_actor(&auth.user, &client))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_providers(
    State(state): State<RouteState>,
    Authorized { access, .. }: Authorized<need::OrgManage>,
) -> Result<ApiJson<Value>, ApiError> {
    let all = state.service.sso_providers(&access).await?;
    // An id for the next provider, so its redirect URI can be registered at the provider
    // before the provider is added here (send it back as `id`).
    let new_id = state.service.next_provider_id(access.org, &all);
    Ok(ApiJson(json!({
        "providers": all.iter().map(|p| provider_json(&state, p)).collect::<Vec<_>>(),
        "new_id": new_id,
        "new_redirect_uri": state.service.sso_redirect_uri(new_id),
    })))
}

/// Adds a provider after fetching its discovery document and keys.
async fn create_provider(
    State(state): State<RouteState>,
    Authorized { access, .. }: Authorized<need::OrgManage>,
    ApiJson(req): ApiJson<ProviderInput>,
) -> Result<Response, ApiError> {
    let p = state.service.create_sso_provider(&access, &req).await?;
    Ok((StatusCode::CREATED, ApiJson(provider_json(&state, &p))).into_response())
}

async fn provider(
    State(state): State<RouteState>,
    Authorized { access, .. }: Authorized<need::OrgManage>,
    ApiPath(id): ApiPath<uuid::Uuid>,
) -> Result<ApiJson<Value>, ApiError> {
    let p = state.service.sso_provider(&access, id).await?;
    Ok(ApiJson(provider_json(&state, &p)))
}

async fn update_provider(
    State(state): State<RouteState>,
    Authorized { access, .. }: Authorized<need::OrgManage>,
    ApiPath(id): ApiPath<uuid::Uuid>,
    ApiJson(req): ApiJson<ProviderInput>,
) -> Result<ApiJson<Value>, ApiError> {
    let p = state.service.update_sso_provider(&access, id, &req).await?;
    Ok(ApiJson(provider_json(&state, &p)))
}

/// Removes a provider; the accounts it linked stay.
async fn delete_provider(
    State(state): State<RouteState>,
    Authorized { access, .. }: Authorized<need::OrgManage>,
    ApiPath(id): ApiPath<uuid::Uuid>,
) -> Result<StatusCode, ApiError> {
    state.service.delete_sso_provider(&access, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
